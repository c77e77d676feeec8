"""Model families on cached blocks, one module each (its ``Family``, initialisation, fit and
JSON form): ``gaussian`` (complete-data mixtures), ``kmeans``, ``masked`` (matrix completion)
and ``wols`` (weighted least squares); ``recommend`` (predictions and top-N from a masked
model), ``selection`` (choosing among runs), ``codec`` (parameters as JSON) and
``reference`` (the course's initialisation)."""
