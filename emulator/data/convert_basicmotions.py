"""Convert the BasicMotions `.ts` files into Edge Impulse data-acquisition JSON.

Run once by hand, never imported at run time:

    pip download --no-deps aeon==1.6.0 -d /tmp/aeon
    cd /tmp/aeon && unzip aeon-1.6.0-py3-none-any.whl 'aeon/datasets/data/BasicMotions/*'
    python emulator/data/convert_basicmotions.py /tmp/aeon/aeon/datasets/data/BasicMotions

Each recording becomes `<category>/<label>.<sequence>.json` under
`emulator/data/basicmotions/`. The label is the file name up to the first
dot, which is how Studio names the files of an exported dataset.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUTPUT_DIR = Path(__file__).parent / "basicmotions"
SOURCE_FILES = {"training": "BasicMotions_TRAIN.ts", "testing": "BasicMotions_TEST.ts"}

# The archive stores the accelerometer axes first, then the gyroscope axes.
# Units are not stated in the source; these are the SenML units such a
# smartwatch reports.
SENSORS = [
    {"name": "accX", "units": "m/s2"},
    {"name": "accY", "units": "m/s2"},
    {"name": "accZ", "units": "m/s2"},
    {"name": "gyrX", "units": "rad/s"},
    {"name": "gyrY", "units": "rad/s"},
    {"name": "gyrZ", "units": "rad/s"},
]
INTERVAL_MS = 100  # the archive samples at 10 Hz
# A fixed issue time keeps the converted files byte-identical between runs.
ISSUED_AT = 1_546_300_800  # 2019-01-01T00:00:00Z


def read_ts(path: Path) -> list[tuple[list[list[float]], str]]:
    """Read a multivariate `.ts` file into (values per axis, class label) pairs."""
    recordings = []
    in_data = False
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "@data":
            in_data = True
            continue
        if not in_data:
            continue
        *dimensions, label = line.split(":")
        axes = [[float(value) for value in dimension.split(",")] for dimension in dimensions]
        recordings.append((axes, label))
    return recordings


def to_acquisition_document(axes: list[list[float]]) -> dict[str, object]:
    """Build an unsigned data-acquisition document, one row of values per time step."""
    if len(axes) != len(SENSORS):
        raise ValueError(f"expected {len(SENSORS)} axes per recording, got {len(axes)}")
    steps = [list(row) for row in zip(*axes, strict=True)]
    return {
        "protected": {"ver": "v1", "alg": "none", "iat": ISSUED_AT},
        "signature": "0" * 64,
        "payload": {
            "device_name": "basicmotions-smartwatch",
            "device_type": "SMARTWATCH",
            "interval_ms": INTERVAL_MS,
            "sensors": SENSORS,
            "values": steps,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", type=Path, help="folder holding BasicMotions_*.ts")
    args = parser.parse_args()

    for category, filename in SOURCE_FILES.items():
        target = OUTPUT_DIR / category
        target.mkdir(parents=True, exist_ok=True)
        counters: dict[str, int] = {}
        for axes, label in read_ts(args.source_dir / filename):
            label = label.lower()
            counters[label] = counters.get(label, 0) + 1
            document = to_acquisition_document(axes)
            path = target / f"{label}.{counters[label]:02d}.json"
            path.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
        summary = dict(sorted(counters.items()))
        print(f"{category}: {sum(counters.values())} recordings {summary}")  # noqa: T201


if __name__ == "__main__":
    main()
