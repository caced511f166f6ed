#!/usr/bin/env bash
# Wheels for a bare GPU machine that may reach no package registry (bench/device_check.py installs
# them with `pip --no-index --find-links .whl` when an import is missing). Run here, in the
# project's venv, before borrowing the machine; then carry `.whl` with the device run.
#
# The wheels are this venv's own versions (what the tests passed with), torch and CUDA's left out:
# the GPU machine brings its own torch. Same Python version and platform as the GPU machine assumed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python -m pip freeze --exclude-editable | grep -v -i -E '^(torch|torchvision|triton|nvidia-|ray)' > .whl/requirements.txt
python -m pip download -q --no-deps -d .whl -r .whl/requirements.txt
size=$(du -sm .whl | cut -f1)
echo "wrote .whl/ (${size} MiB, $(ls .whl/*.whl 2>/dev/null | wc -l) wheels)"
# The device tool carries at most 64 MiB: OpenCV and PyAV alone are near that. Drop what the GPU
# machine already has (check with `pip list` there first) if the folder is larger.
if [ "$size" -gt 64 ]; then
  echo "warning: more than the 64 MiB a device run can carry; remove wheels the machine already has" >&2
fi
