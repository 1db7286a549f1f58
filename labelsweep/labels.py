"""The one label value that keeps a sample out of a model's training: ``NO_LABEL``.

Every per-sample label array of the pipeline (a run's noisy labels, a cell's cleaned labels, a fold model's
labels) uses it for a sample that model does not train on -- outside the run's training subsample, pruned by a
cell, or in the fold a cross-validation model holds out. The training loop masks it out of the loss
(labelsweep.training), whatever the reason.
"""

NO_LABEL = -1
