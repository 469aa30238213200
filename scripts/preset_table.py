"""Print what each factory preset does to real material (the README's table):
`python scripts/preset_table.py`. The material and the figures are the test
suite's own (tests/material.py, tests/preset_figures.py)."""
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(root), str(root / "tests")]

import preset_figures  # noqa: E402

if __name__ == "__main__":
    doc = preset_figures.__doc__
    print(doc[doc.index("Figures"):].strip())
    print()
    print(preset_figures.format_table(preset_figures.table()))
