"""The models and their training: the variants, the datasets and preprocessing, the training
loop and its callbacks, the measures, what the Inside page computes, code generation and the
retraining of the shipped models. Nothing here imports the store, the lab's rules or the
cluster; Keras loads only when a module that builds or runs a model is imported.
"""
