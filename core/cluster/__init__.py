"""The training cluster: the app's Dask client (`client`), the scheduler it may start
(`scheduler`), the training worker (`worker`), the tasks workers run (`tasks`) and a stored
run's training job (`job`). The client imports no Keras; workers load it once, at start."""
