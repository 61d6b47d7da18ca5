import subprocess
import sys


def test_core_never_imports_the_app_stack():
    code = (
        "import sys, uplift_studio, uplift_studio.core.data, uplift_studio.core.simulate, uplift_studio.core.readout;"
        "import importlib, pkgutil, uplift_studio.core as core;"
        "[importlib.import_module(m.name) for m in pkgutil.iter_modules(core.__path__, 'uplift_studio.core.')];"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'panel', 'holoviews', 'bokeh', 'param'});"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"core imported {result.stdout.strip()}"


def test_the_guard_itself_can_fail():
    # The same probe sees the app stack when something does import it: the check above is not vacuous.
    code = "import sys, param; print('param' in {m.split('.')[0] for m in sys.modules})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
