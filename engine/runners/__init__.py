"""How calls are scheduled: in-process/worker processes on one machine, or Ray Data."""
