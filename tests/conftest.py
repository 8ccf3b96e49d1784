"""Suite-wide settings.

One intra-op thread per test process: the suite runs as 2 xdist workers on 2 cores, and
oversubscribed torch thread pools make small ops tens of times slower on a shared machine.
"""

import torch

torch.set_num_threads(1)
