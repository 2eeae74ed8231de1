"""Visit every page the way a server does, then report whether TensorFlow or Keras was ever
imported: `python -m tests.support.no_tensorflow SPEC` with SPEC a JSON list of
{"dataset", "token", "run", "variant"} (a student's run to use on each page), printing one JSON
object. It runs in its own process: the test process imports Keras to make the runs.

The views are those of tests/app/test_pages_follow_the_dataset.py: every section of Inside,
each input and mode of Draw, the class page, with the shipped model and with the run.
"""

from __future__ import annotations

import json
import sys

from tests.support.pages import FIXED_HEADERS, PAGES, run_page

VIEWS = {
    "pages/home.py": [{}],
    "pages/train.py": [{}],
    "pages/race.py": [{}],
    "pages/draw.py": [
        {"draw_source": "Test digit", "random_index": 0},
        {"draw_source": "Test digit", "random_index": 0, "draw_mode": "Noise and denoise"},
    ],
    "pages/latent.py": [{}],
    "pages/inside.py": [{"inside_section": section} for section in FIXED_HEADERS],
    "pages/compare.py": [{}],
    "pages/class.py": [{}],
}
assert set(PAGES) <= set(VIEWS)


def visit(spec: list[dict]) -> dict:
    seen = []
    for use in spec:
        for path, views in VIEWS.items():
            for view in views:
                state = {"dataset": use["dataset"], **view}
                if path != "pages/class.py":
                    state.update(variant=use["variant"], model_choice=use["run"])
                app = run_page(path, token=use["token"], **state)
                seen.append(
                    {
                        "page": path,
                        "dataset": use["dataset"],
                        "view": view,
                        "exceptions": [item.value for item in app.exception],
                        "errors": [item.value for item in app.error],
                    }
                )
    heavy = sorted(
        name
        for name in sys.modules
        if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "tf_keras")
    )
    return {"views": seen, "heavy_modules": heavy[:20], "heavy_count": len(heavy)}


if __name__ == "__main__":
    print(json.dumps(visit(json.loads(sys.argv[1]))))
