"""Cut the real faces of the group photos in tests/media (face-api demo images, MIT) into small square crops for
`delocate_hf/assets/faces/`: extra real identities for the demo and the shipped default model.

    python scripts/extract_face_assets.py tests/media delocate_hf/assets/faces
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from processing import get_landmarker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("media", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--margin", type=float, default=1.9, help="crop side / landmark-box side")
    parser.add_argument("--min-face", type=int, default=60, help="skip faces smaller than this (px)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    landmarker = get_landmarker("mediapipe", max_num_faces=10, static_image_mode=True)
    count = 0
    for photo in sorted(args.media.glob("sample*.jpg")):
        image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
        for k, face in enumerate(sorted(landmarker.detect(image), key=lambda f: f.box[0])):
            x0, y0, x1, y1 = face.box
            side = max(x1 - x0, y1 - y0)
            if side < args.min_face:
                continue
            cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, side * args.margin / 2
            src = np.float32([[cx - half, cy - half], [cx + half, cy - half], [cx - half, cy + half]])
            dst = np.float32([[0, 0], [args.size, 0], [0, args.size]])
            crop = cv2.warpAffine(image, cv2.getAffineTransform(src, dst), (args.size, args.size),
                                  flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
            name = args.out / f"{photo.stem}_{k}.jpg"
            cv2.imwrite(str(name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
            count += 1
    print(f"{count} faces -> {args.out}")


if __name__ == "__main__":
    main()
