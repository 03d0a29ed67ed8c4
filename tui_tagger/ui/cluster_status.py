"""The model core on a Dask cluster (``open DIR --scheduler ADDRESS|FILE``, ``--cluster local[:N]``,
``$TUI_TAGGER_SCHEDULER``; a mixin of TaggerApp). ``commands/open_cmd.py`` checks the options and hands the app a
``model.cluster.Cluster``, not yet connected; here a worker connects at mount (the first screen never waits on
the network) and posts ``ClusterReady`` (the status bar says where the model runs: ``model: 2 workers @
tcp://…``) or ``ClusterFailed`` (one notice naming the address; ``p`` tries again). ``p``, the followed frames and
the live head's features then run on the workers (``ui/prediction.py``, ``ui/follow.py``, ``ui/live_heads.py``);
every cluster call is made from a worker thread."""

from __future__ import annotations

from textual import work

from tui_tagger.core.errors import TaggerError
from tui_tagger.ui.messages import ClusterFailed, ClusterReady


def where_of(cluster) -> str:
    """``2 workers @ tcp://host:8786`` (``, 1 GPU`` when the workers have GPUs)."""
    return cluster.describe().replace(", 0 GPUs", "")


class ClusterMixin:
    cluster = None  # model.cluster.Cluster, or None: the model runs in this process
    cluster_where: str | None = None

    def connect_cluster(self) -> None:
        if self.cluster is None:
            return
        self.predict_device = f"connecting to {self.cluster.address}…"
        self.cluster_connect(self.cluster)

    @work(thread=True, exclusive=True, group="cluster", description="cluster")
    def cluster_connect(self, cluster) -> None:
        try:
            cluster.client
            where = where_of(cluster)
        except TaggerError as err:
            self.post_message(ClusterFailed(str(err)))
            return
        except Exception as err:  # noqa: BLE001 - never a traceback on screen
            self.post_message(ClusterFailed(f"{cluster.address}: {type(err).__name__}: {err}"))
            return
        self.post_message(ClusterReady(where))

    def on_cluster_ready(self, msg: ClusterReady) -> None:
        self.cluster_where = msg.where
        if self.predicting is None:
            self.predict_device = msg.where

    def on_cluster_failed(self, msg: ClusterFailed) -> None:
        self.cluster_where = None
        self.predict_device = f"cluster unreachable: {self.cluster.address} (p tries again)"
        self.notify(msg.error, severity="error", timeout=15)
