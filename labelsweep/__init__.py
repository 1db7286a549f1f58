"""labelsweep: does cleanlab keep a model accurate under label noise, and is pruning or relabelling better?

The stage scripts in ``stages/`` are thin, top-down programs over this package. Modules import only
what they need (``noise``, ``cleaning``, ``config`` and ``artifacts`` need numpy alone) so that the many
cheap matrix stages start fast; torch, torchvision, cleanlab and matplotlib are imported only by the
stages that use them.
"""
