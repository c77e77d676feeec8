"""The front ends of the spark-submit jobs: ``common`` holds what they share (options, flags,
progress lines, atomic output, exit status), one module per job holds its logic
(``fit_gmm``, ``fit_wols``, ``make_ratings``), and ``plots`` the pictures they write."""

from spark_em.cli.common import (
    add_session_options,
    check_out_dir,
    int_list,
    main_wrapper,
    output_dir,
    progress_line,
    say,
    write_json,
)

__all__ = [
    "add_session_options",
    "output_dir",
    "check_out_dir",
    "int_list",
    "main_wrapper",
    "progress_line",
    "say",
    "write_json",
]
