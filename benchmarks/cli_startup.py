"""`zoo plugins list` wall time / `python -c "import tensorflow"` wall time (goal <= 0.2).

Both commands run as fresh processes, alternating, so they share the machine's state.
"""

from __future__ import annotations

import subprocess
import sys

from _common import alternate, ratio_summary, report, run_cli


def main(repeats: int = 5) -> dict:
    def zoo_list():
        subprocess.run([sys.executable, "-m", "zoo.cli", "plugins", "list"], check=True, capture_output=True)

    def import_tf():
        subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)

    zoo_list(), import_tf()  # warm the file cache for both
    t_zoo, t_tf = alternate(zoo_list, import_tf, repeats)
    summary = ratio_summary(t_zoo, t_tf)
    return report("cli_startup", "zoo plugins list / import tensorflow (wall time)", summary, "<= 0.2",
                  summary["median"] <= 0.2,
                  {"zoo_plugins_list_s": sorted(t_zoo)[len(t_zoo) // 2], "import_tensorflow_s": sorted(t_tf)[len(t_tf) // 2]})


if __name__ == "__main__":
    run_cli(main, {'repeats': 3})
