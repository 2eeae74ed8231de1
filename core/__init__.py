"""Autoencoder Lab's code outside the pages, in four packages by job:

- `core.ml`: the models and their training (variants, data, training, measures, code
  generation); it knows nothing of the store, the lab's rules or the cluster.
- `core.store`: the database of runs, students and classes (SQLAlchemy and Alembic).
- `core.lab`: the lab's rules (settings, limits, the life of a run, the classroom).
- `core.cluster`: the training cluster (the app's Dask client, the embedded scheduler and
  workers, the tasks and the stored run's training job).

Nothing here imports Streamlit, and importing `core`, the store, the lab or the cluster's client
loads no Keras or TensorFlow: they load where a model is built or a file is loaded
(`core.ml.cards.load_model` registers the lab's custom layers first).
"""
