"""The front ends of the spark-submit jobs: ``common`` holds what they share (options, flags,
progress lines, exit status), ``outputs`` where they write (checked, all or nothing), one
module per job holds its logic (``fit_gmm``, ``fit_wols``, ``make_ratings``), and ``plots``
the pictures they write."""

from spark_em.cli.common import (
    add_session_options,
    int_list,
    main_wrapper,
    say,
    write_json,
)
from spark_em.cli.outputs import check_out_dir, output_dir

__all__ = [
    "add_session_options",
    "output_dir",
    "check_out_dir",
    "int_list",
    "main_wrapper",
    "say",
    "write_json",
]
