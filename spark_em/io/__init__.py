"""Loaders and writers: text, CSV and ``.npy`` matrices and DataFrame columns (``matrix``),
regression tables (``table``), (user, item, rating) records (``triples``), seeded synthetic
data (``synthetic``); one partition parser (``parser``) and one vector decoder (``vectors``)."""
