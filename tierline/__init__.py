"""tierline: customer segmentation and service tiers.

Installed, everything lives under this one package: ``tierline.engine``,
``tierline.training``, ``tierline.api``, ``tierline.cli``, and the example specs in
``tierline/examples``. In the repository those stay top-level folders; the entries here
are relative symbolic links to them, so a checkout imports the same files as an install.
"""
