"""Visit every page the way a server does, then report whether TensorFlow or Keras was ever
imported: `python -m tests.support.no_tensorflow SPEC` with SPEC a JSON list of
{"dataset", "token", "run", "variant"} (a student's run to use on each page), printing one JSON
object. It runs in its own process: the test process imports Keras to make the runs.

The views are tests.support.pages.VIEWS (every section of Inside, each input and mode of Draw)
and the class page, each with the run chosen as the model.
"""

from __future__ import annotations

import json
import sys

from tests.support.pages import PAGES, page_alone, run_page
from tests.support.pages import VIEWS as PAGE_VIEWS

VIEWS = {**PAGE_VIEWS, "pages/class.py": [{}]}
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
    # Pressing Train queues a run (the worker, another process, trains it): the page builds
    # its settings, which once imported Keras through core.ml.training's TrainConfig.
    use = spec[0]
    app = page_alone("pages/train.py", token=use["token"], dataset=use["dataset"])
    next(button for button in app.button if button.label == "Train").click().run()
    seen.append(
        {
            "page": "pages/train.py (Train pressed)",
            "dataset": use["dataset"],
            "view": {},
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
