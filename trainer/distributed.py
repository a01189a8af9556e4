"""tf.distribute strategies of `trainer.fit --strategy`, and what Keras 3 needs to train under
MultiWorkerMirroredStrategy with more than one worker."""

from __future__ import annotations

import tensorflow as tf


def strategy_for(name: str, log):
    """The tf.distribute strategy, and whether this process writes the run (the chief does)."""
    if name == "none":
        return tf.distribute.get_strategy(), True
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        log(f"mirrored strategy over {strategy.num_replicas_in_sync} replicas")
        return strategy, True
    # Multi-worker: the cluster comes from TF_CONFIG; without it, this process is the only worker.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    patch_keras_multi_worker()
    resolver = strategy.cluster_resolver
    task_type, task_id = getattr(resolver, "task_type", None), getattr(resolver, "task_id", None)
    chief = task_type in (None, "chief") or (task_type == "worker" and task_id == 0
                                             and "chief" not in resolver.cluster_spec().jobs)
    log(f"multi-worker strategy: {task_type or 'single'} worker {task_id or 0}, "
        f"{strategy.num_replicas_in_sync} replicas in sync{'' if chief else ' (not the chief: writes nothing)'}")
    return strategy, chief


def is_multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def any_worker(strategy, flag: bool) -> bool:
    """Whether `flag` holds on any worker (a collective: every worker must call it)."""
    return float(strategy.reduce("SUM", tf.constant(float(flag)), axis=None)) > 0


def patch_keras_multi_worker() -> None:
    """Two fixes to Keras 3's TensorFlow trainer, which fails as soon as a second worker joins
    (keras-team/keras#20585, tensorflow/tensorflow#72388; one worker never meets them):

    - `fit` first reduces a distributed input batch with `strategy.reduce` to learn its shapes;
      the collective strategy cannot reduce a nested structure ("Attempt to convert a value
      (PerReplica ...) to a Tensor"), and this worker's own batch has the shapes anyway.
    - every step reduces the loss and metrics with `reduce("MEAN", v, axis=0)`, which fails on
      those scalars ("Invalid reduction dimension 0 for input with 0 dimensions"): their mean over
      the replicas is `axis=None`.

    Applied only when a multi-worker strategy is made, once; a Keras without these internals
    (renamed, or fixed) is left alone."""
    from keras.src.backend.tensorflow import trainer as tf_trainer

    trainer_class = getattr(tf_trainer, "TensorFlowTrainer", None)
    build = getattr(trainer_class, "_maybe_symbolic_build", None)
    reduce_per_replica = getattr(tf_trainer, "reduce_per_replica", None)
    multi_worker = getattr(tf_trainer, "_collective_all_reduce_multi_worker", None)
    if None in (build, reduce_per_replica, multi_worker) or getattr(build, "s2s_patched", False):
        return
    from keras.src import tree

    def local(strategy, value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or not multi_worker(strategy) or iterator is None:
            return build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = tree.map_structure(lambda v: local(strategy, v), next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_scalars(values, strategy, reduction):
        if multi_worker(strategy) and reduction in ("auto", "mean"):
            # With one device per worker a step's values are plain tensors: reduce them too.
            return tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None)
                if isinstance(v, (tf.distribute.DistributedValues, tf.Tensor)) else v, values)
        return reduce_per_replica(values, strategy, reduction)

    symbolic_build.s2s_patched = True
    trainer_class._maybe_symbolic_build = symbolic_build
    tf_trainer.reduce_per_replica = reduce_scalars
