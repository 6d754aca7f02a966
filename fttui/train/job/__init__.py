"""One job's training run (`JobRun`), as a client of the server.

`python -m fttui.train.run` (the entry point, `fttui/train/run.py`) and each Ray Train
worker (`fttui/train/ray_train.py`) call `train_job`; keeping the run here, apart
from the entry point, is what keeps the entry -> Ray -> run arrows one way.

Its only inputs are the server's URL, the job id and the per-job token (in
`FTTUI_TRAINER_TOKEN`, never on the command line). It reads the job spec, the
training/validation files and any fine-tuned model it continues from over HTTP, and
reports events, metrics, status, checkpoints, the results file and the model back
over the server's internal API (`fttui/train/client.py`, docs/cluster.md). It never
opens the server's data directory, so the same code trains on the server's machine
(the local runner, over loopback) and on a Ray node.

The server applies status reports with `Store.transition` from `running`, so a job
the user cancelled is never turned back into `succeeded`. Cancel arrives as SIGTERM
(local runner, `ray job stop`) or in the server's answers and polls (`control`);
either way the loop stops between steps (or before the next decoder layer), keeps
the rows and checkpoints so far and reports `cancelled`.

Under `accelerate launch` / torchrun (WORLD_SIZE > 1) or Ray Train (`--ray-workers N`,
N > 1) every rank runs `JobRun`: all train their share of each batch under torch
DDP, and only rank 0 reports.

The parts, in the order a run goes through them:

- `_inputs.py`: what the job reads from the server (base model, files, resume point);
- `_plan.py`: what the run will do (`JobPlan`: device, training path, LoRA/QLoRA,
  hyperparameters resolved on the real examples, learning rate, objective);
- `_loop.py`: the engine's loop driven and told about, from the first report to the
  saved model;
- `_reports.py`: everything told to the server (events, metrics rows, checkpoints,
  results, model, status); `_checkpoint.py`: a checkpoint's files, written and read;
- `_control.py`: cancel and pause (a signal, or the server's answer);
- `_run.py`: `JobRun` itself, and how each way a run ends becomes the job's status.
"""

from fttui.train.job._run import JobRun, lost_peer, train_job

__all__ = ["JobRun", "lost_peer", "train_job"]
