"""Run files through check_attachment in a fresh process, all at once in threads as
concurrent requests would, and print as JSON each outcome and how much the process's peak
memory grew (`python -m tests.measure_upload PATH [PATH ...]`).

The peak is the kernel's high-water mark of this process's memory (VmHWM; not
getrusage's ru_maxrss, which also counts the parent's memory at fork time), measured from the
resident size just before the call: the figure can only overstate what the upload cost.
"""

import io
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def status_bytes(field: str) -> int:
    """A memory figure of /proc/self/status (VmRSS, VmHWM), in bytes."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def main(paths: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from sender.attachments import check_attachment

    def check(upload: SimpleUploadedFile) -> dict:
        try:
            checked = check_attachment(upload)
        except ValidationError as error:
            return {"outcome": error.messages[0], "size": None}
        with Image.open(io.BytesIO(checked.data)) as image:
            return {"outcome": "accepted", "size": image.size}

    uploads = [SimpleUploadedFile(Path(path).name, Path(path).read_bytes()) for path in paths]
    Image.new("RGB", (8, 8)).save(io.BytesIO(), "PNG")  # Pillow's plugins load before measuring
    before = status_bytes("VmRSS")
    with ThreadPoolExecutor(len(uploads)) as pool:
        reports = list(pool.map(check, uploads))
    print(json.dumps({"reports": reports, "cost": status_bytes("VmHWM") - before}))


if __name__ == "__main__":
    main(sys.argv[1:])
