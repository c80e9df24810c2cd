"""The Python package's end-to-end target, timed: three nodes on loopback, a Trainer run
directory (TrainerState.save_to_json, the adapter's config, lm-eval results of the base and the
fine-tuned model), QisCallback(publish=True)'s end-of-training hook, then qis.query finds the
packet. Prints the wall time of each step and of the whole, from before `import transformers`.

Usage: python tools/py-end-to-end.py   (with the package installed, or QIS_BIN set)
"""
import time

started = time.monotonic()
import json, pathlib, shutil, tempfile  # noqa: E401,E402

from transformers import TrainerControl, TrainerState, TrainingArguments  # noqa: E402

import qis  # noqa: E402
from qis.integrations.transformers import QisCallback  # noqa: E402
from qis.testing import LocalNetwork  # noqa: E402

fixture = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/runs/qlora-llama3-medqa"
marks = [("import transformers and qis", time.monotonic())]
with tempfile.TemporaryDirectory() as tmp, LocalNetwork(nodes=3) as net:
    marks.append(("LocalNetwork(nodes=3) up", time.monotonic()))
    out = pathlib.Path(tmp) / "out"
    out.mkdir()
    shutil.copy(fixture / "out/adapter_config.json", out)
    for source in (fixture / "lm_eval").glob("*/results_*.json"):
        data = json.loads(source.read_text())
        data["config"]["model_args"] = data["config"]["model_args"].replace("peft=./out", f"peft={out}")
        (out / "lm_eval" / source.parent.name).mkdir(parents=True, exist_ok=True)
        (out / "lm_eval" / source.parent.name / source.name).write_text(json.dumps(data))
    args = TrainingArguments(output_dir=str(out), learning_rate=2e-4, num_train_epochs=3, report_to=[])
    state = TrainerState(epoch=3.0, global_step=750, max_steps=750, num_train_epochs=3, train_batch_size=4)
    callback = QisCallback(task="medical-qa", tags=["medicine", "english"], publish=True, **net.options)
    callback.on_train_end(args, state, TrainerControl())
    assert callback.published, callback.error
    marks.append(("on_train_end: drafted and published", time.monotonic()))
    found = qis.query(family="llama-3-8b", task="medical-qa", tags=["english"], **net.options)
    assert callback.published.packet_id in [p.packet_id for p in found]
    marks.append(("qis.query found it", time.monotonic()))
previous = started
for name, at in marks:
    print(f"{name:<40} {at - previous:6.2f} s")
    previous = at
print(f"{'total (nodes stopped after)':<40} {time.monotonic() - started:6.2f} s; packet {callback.published.packet_id[:12]}")
