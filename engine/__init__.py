"""The domain core of tierline: spec, features, tier policy, playbook, model bundle, registry."""
