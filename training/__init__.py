"""Batch side of tierline: loading data, building features from logs, training, evaluation."""
