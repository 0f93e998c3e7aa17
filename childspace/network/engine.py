"""``WalkNetwork``: the walk network as arrays, with snapping and shortest-path queries.

The graph is held as a symmetric ``scipy.sparse`` CSR array over positional node indices ``0..n-1`` (walking
ignores ``oneway``), in a local metric CRS (:func:`childspace.inputs.projection.local_crs_for`), so every distance is in
metres. Edge attributes are a GeoDataFrame whose row order is the edge index; node coordinates are numpy arrays.

Points (facilities, homes, entrances) are attached to the nearest point of the nearest *edge*, not to the nearest
node (:meth:`WalkNetwork.snap`: candidate segments from a KD-tree over points sampled along the edges, measured
exactly, with an R-tree query for the few points the samples cannot decide). A query with many sources runs one
:func:`scipy.sparse.csgraph.dijkstra` call on an augmented graph holding one extra "virtual" node per snapped
source, linked to the two ends of its edge with the partial lengths. Targets on edges take ``min(d[u] +
offset, d[v] + length - offset)``, and a target on the same
edge as a source also gets the direct distance along the edge.

Routes from *given* sources (each target's assigned school) use one shortest-path tree per source group
(:meth:`WalkNetwork.paths_from`): the augmented graph is built once for all sources, each group's tree is one
bounded Dijkstra call over its virtual nodes, and the paths of all targets are read from the kept predecessor
arrays together. A weight may carry end costs (:meth:`WalkNetwork.edge_weights` ``end_u``/``end_v``, e.g. crossing
penalties at nodes) that partial edges pay in full rather than by the share walked.

Parallel edges (two ways joining the same pair of nodes) keep the shorter one in the CSR; an array maps every CSR
entry back to the edge that achieves it, so paths map back to edge rows, also under custom weights
(:meth:`WalkNetwork.edge_weights`).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import connected_components

from childspace._errors import NetworkError
from childspace._gcpause import gc_paused
from childspace._types import CRSLike
from childspace.inputs.projection import local_crs_for
from childspace.network._helpers import as_object_none
from childspace.network.paths import PathMixin
from childspace.network.queries import QueryMixin
from childspace.network.reach import ReachMixin
from childspace.network.snapping import SnapMixin
from childspace.network.storage import StorageMixin
from childspace.network.types import EdgeWeight, Paths, PathSteps, Snap

if TYPE_CHECKING:
    import networkx as nx
    from numpy.typing import ArrayLike

    from childspace.inputs.area import AreaLike

__all__ = ["EdgeWeight", "PathSteps", "Paths", "Snap", "WalkNetwork"]


# ----------------------------------------------------------------------------------------------------------------
# the engine
# ----------------------------------------------------------------------------------------------------------------
class WalkNetwork(SnapMixin, QueryMixin, PathMixin, ReachMixin, StorageMixin):
    """The walk network as CSR arrays in a local metric CRS.

    Build it with :meth:`from_frames` (the ``osm.read_osm`` tables), :meth:`from_osm`, :meth:`from_networkx` or
    :meth:`load`.

    Attributes
    ----------
    crs : pyproj.CRS
        Metric CRS of every coordinate and distance.
    nodes : geopandas.GeoDataFrame
        One row per node, index ``0..n-1``; columns ``osmid``, ``x``, ``y`` (metres, ``crs``), the node tags.
    edges : geopandas.GeoDataFrame
        One row per undirected edge, index ``0..e-1``; ``u``, ``v`` positional node indices, ``u_osmid``,
        ``v_osmid``, the edge tags, ``length`` (metres, geometric length in ``crs``), geometry oriented u -> v.
    node_osmid, x, y : numpy.ndarray (n,)
    u, v, length : numpy.ndarray (e,)
    component : numpy.ndarray (n,)
        Connected-component label per node; label 0 is the largest component.
    """

    def __init__(
        self,
        nodes: gpd.GeoDataFrame,
        edges: gpd.GeoDataFrame,
        crs: CRSLike,
        beside_roads: gpd.GeoDataFrame | None = None,
    ):
        """Wrap frames that are already metric and positional (use the ``from_*`` constructors instead)."""
        if len(nodes) == 0 or len(edges) == 0:
            raise NetworkError(
                f"the walk network is empty ({len(nodes)} nodes, {len(edges)} edges)",
                fix="check that the OSM extract covers the study area and has walkable ways "
                "(highway=*), or enlarge the area / buffer",
            )
        self.crs: CRS = CRS.from_user_input(crs)
        self.nodes = nodes
        self.edges = edges
        #: roads that are not walked because their sidewalks are mapped as separate ways (``osm.read_osm``
        #: ``beside_roads``), in ``crs``; the safety rating of those sidewalks and their crossings uses them
        self.beside_roads = beside_roads
        #: lines a point's access leg may not cross when it is snapped (:meth:`snap`, rule 3): the carriageways
        #: of :attr:`beside_roads`; assign other geometries (network CRS) to change the default
        self.barriers: np.ndarray | None = (
            None
            if beside_roads is None or len(beside_roads) == 0
            else np.asarray(beside_roads.geometry.array, dtype=object)
        )
        self.node_osmid = nodes["osmid"].to_numpy()
        self.x = nodes["x"].to_numpy(dtype=float)
        self.y = nodes["y"].to_numpy(dtype=float)
        self.u = edges["u"].to_numpy(dtype=np.int64)
        self.v = edges["v"].to_numpy(dtype=np.int64)
        self.length = edges["length"].to_numpy(dtype=float)
        self._geom = np.asarray(edges.geometry.array, dtype=object)
        self._length_weight = self._build_weight(self.length)
        ncomp, labels = connected_components(self._length_weight.csr, directed=False)
        sizes = np.bincount(labels, minlength=ncomp)
        rank = np.empty(ncomp, dtype=np.int64)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(ncomp)
        self.component = rank[labels]
        self.component_sizes = np.sort(sizes)[::-1]
        self._tree: shapely.STRtree | None = None
        self._walktree: shapely.STRtree | None = None
        self._btree: tuple[shapely.STRtree, np.ndarray] | None = None
        self._walkmask: np.ndarray | None = None
        self._vcoords: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._snapidx: dict[str, Any] | None = None
        self._inc: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # guards the lazy caches above: queries may run on several threads (re-entrant: _snap_index fills
        # _vertex_table while holding it)
        self._lazy_lock = threading.RLock()

    # ------------------------------------------------------------------ construction
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.x.size)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.u.size)

    @property
    def csr(self) -> sp.csr_array:
        """Symmetric CSR of edge lengths (metres), minimum over parallel edges."""
        return self._length_weight.csr

    def __getstate__(self) -> dict[str, Any]:
        # pickled for Dask workers and caches: the lock is per process; lazy indexes are rebuilt on demand
        state = self.__dict__.copy()
        del state["_lazy_lock"]
        state.pop("_snap_memo_d", None)  # (snaps remembered by this process: see SnapMixin._memo_key)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lazy_lock = threading.RLock()

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, {self.length.sum() / 1000:.1f} km, "
            f"{self.component_sizes.size} components, crs={self.crs.to_string()})"
        )

    @classmethod
    def from_frames(
        cls,
        nodes: gpd.GeoDataFrame,
        edges: gpd.GeoDataFrame,
        crs: CRSLike | None = None,
        beside_roads: gpd.GeoDataFrame | None = None,
    ) -> WalkNetwork:
        """Build the engine from the walk-network tables of ``osm.read_osm``.

        Parameters
        ----------
        nodes : geopandas.GeoDataFrame
            Index = OSM node id (``osmid``), Point geometry (any CRS, usually EPSG:4326), tag columns.
        edges : geopandas.GeoDataFrame
            ``u``, ``v`` (OSM node ids), LineString geometry (any CRS; missing geometries become straight
            segments), tag columns. An input ``length`` column is replaced by the geometric length in ``crs``.
        crs : optional
            Metric CRS to work in; default :func:`childspace.inputs.projection.local_crs_for` of the nodes.
        beside_roads : geopandas.GeoDataFrame, optional
            Roads not walked because their sidewalks are separate ways (``read_osm(..., beside_roads=True)``),
            kept as :attr:`beside_roads` for the safety ratings.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        NetworkError
            Empty tables, no CRS, duplicate node ids, or edges whose ``u``/``v`` are not in ``nodes``.
        """
        # the cyclic collector paused: building ~500k point and line geometries (tracked objects) triggers a young
        # collection every 700 of them and older ones that walk every tracked object of the process (the inputs'
        # and the extract's geometries); nothing built here makes a reference cycle
        with gc_paused():
            return cls._from_frames(nodes, edges, crs, beside_roads)

    @classmethod
    def _from_frames(
        cls,
        nodes: gpd.GeoDataFrame,
        edges: gpd.GeoDataFrame,
        crs: CRSLike | None,
        beside_roads: gpd.GeoDataFrame | None,
    ) -> WalkNetwork:
        """:meth:`from_frames` with the collector paused."""
        if nodes is None or edges is None or len(nodes) == 0 or len(edges) == 0:
            raise NetworkError(
                f"the walk network is empty ({0 if nodes is None else len(nodes)} nodes, "
                f"{0 if edges is None else len(edges)} edges)",
                fix="check that the OSM extract covers the study area and has walkable ways "
                "(highway=*), or enlarge the area / buffer",
            )
        if nodes.crs is None:
            raise NetworkError(
                "the nodes table has no CRS",
                feature="nodes",
                fix="set it with nodes.set_crs('EPSG:4326') (osm.read_osm output is EPSG:4326)",
            )
        for col in ("u", "v"):
            if col not in edges.columns:
                raise NetworkError(
                    f"the edges table has no '{col}' column",
                    feature="edges",
                    fix="build the tables with childspace.osm.reader.read_osm",
                )
        if not nodes.index.is_unique:
            dup = nodes.index[nodes.index.duplicated()].unique()[:5].tolist()
            raise NetworkError(
                f"duplicate node ids in the nodes table: {dup}",
                feature="nodes",
                fix="drop duplicate nodes (one row per OSM node id)",
            )
        metric = CRS.from_user_input(crs) if crs is not None else local_crs_for(nodes)
        if not metric.is_projected:
            raise NetworkError(
                f"CRS {metric.to_string()} is not a projected (metric) CRS",
                fix="pass a metric CRS, or None to choose the local Gauss-Krueger/UTM zone",
            )

        pts = (
            _to_metric(nodes.geometry, metric)
            if not CRS.from_user_input(nodes.crs).equals(metric)
            else np.asarray(nodes.geometry.array, dtype=object)
        )
        if shapely.is_missing(pts).any() or shapely.is_empty(pts).any():
            bad = nodes.index[shapely.is_missing(pts) | shapely.is_empty(pts)][:5].tolist()
            raise NetworkError(
                f"nodes without geometry: {bad}", feature="nodes", fix="every node needs a Point geometry"
            )
        nx_ = shapely.get_x(pts)
        ny_ = shapely.get_y(pts)
        node_cols = [c for c in nodes.columns if c not in ("x", "y", "osmid", nodes.geometry.name)]
        nodes_out = gpd.GeoDataFrame(
            {
                "osmid": nodes.index.to_numpy(),
                "x": nx_,
                "y": ny_,
                **{c: _column(nodes[c]) for c in node_cols},
            },
            geometry=pts,
            crs=metric,
        )

        idx = pd.Index(nodes.index)
        ui = idx.get_indexer(edges["u"])
        vi = idx.get_indexer(edges["v"])
        missing = (ui < 0) | (vi < 0)
        if missing.any():
            rows = np.flatnonzero(missing)
            desc = ", ".join(
                f"row {r} (u={edges['u'].iloc[r]}, v={edges['v'].iloc[r]}"
                + (f", way {edges['osmid'].iloc[r]}" if "osmid" in edges.columns else "")
                + ")"
                for r in rows[:5]
            )
            raise NetworkError(
                f"{rows.size} edge(s) refer to nodes that are not in the nodes table: {desc}",
                feature="edges",
                fix="build nodes and edges together (osm.read_osm), or drop "
                "edges whose end nodes were clipped away",
            )

        if isinstance(edges, gpd.GeoDataFrame) and edges.geometry.name in edges.columns:
            if edges.crs is None:
                raise NetworkError(
                    "the edges table has no CRS",
                    feature="edges",
                    fix="set it with edges.set_crs('EPSG:4326')",
                )
            geom = (
                _to_metric(edges.geometry, metric)
                if not CRS.from_user_input(edges.crs).equals(metric)
                else np.asarray(edges.geometry.array, dtype=object).copy()
            )
            gname = edges.geometry.name
        else:
            geom = np.full(len(edges), None, dtype=object)
            gname = "geometry"
        none = shapely.is_missing(geom) | shapely.is_empty(geom)
        if none.any():
            a, b = ui[none], vi[none]
            geom[none] = shapely.linestrings(np.stack([np.c_[nx_[a], ny_[a]], np.c_[nx_[b], ny_[b]]], axis=1))
        types = shapely.get_type_id(geom)
        if (types != 1).any():
            if (types == 5).any():  # MultiLineString: merge to one line where possible
                ml = types == 5
                geom[ml] = shapely.line_merge(geom[ml])
                types = shapely.get_type_id(geom)
            if (types != 1).any():
                rows = np.flatnonzero(types != 1)[:5].tolist()
                raise NetworkError(
                    f"edges with a geometry that is not a LineString at rows {rows}",
                    feature="edges",
                    fix="give each edge a single LineString from u to v",
                )
        # orient every geometry u -> v (a reversed geometry would make offsets run from the wrong end)
        # (first vertices read from the coordinate array: no temporary Point objects for millions of edges)
        coords, li = shapely.get_coordinates(geom, return_index=True)
        first_v = np.searchsorted(li, np.arange(len(geom)))
        sx, sy = coords[first_v, 0], coords[first_v, 1]
        del coords, li
        du = np.hypot(sx - nx_[ui], sy - ny_[ui])
        dv = np.hypot(sx - nx_[vi], sy - ny_[vi])
        flip = (dv < du) & (ui != vi)
        if flip.any():
            geom[flip] = shapely.reverse(geom[flip])

        skip = {"u", "v", "length", gname, "geometry"}
        edge_cols = [c for c in edges.columns if c not in skip]
        data = {
            "u": ui.astype(np.int64),
            "v": vi.astype(np.int64),
            "u_osmid": edges["u"].to_numpy(),
            "v_osmid": edges["v"].to_numpy(),
        }
        for c in edge_cols:
            if c in ("u_osmid", "v_osmid"):
                continue
            data[c] = _column(edges[c])
        data["length"] = shapely.length(geom)
        edges_out = gpd.GeoDataFrame(data, geometry=geom, crs=metric)
        # (the text columns made by _column are already object arrays with None)
        as_object_none(nodes_out, skip=("osmid", "x", "y", *(c for c in node_cols if _is_text(nodes[c]))))
        made = (c for c in edge_cols if c not in ("u_osmid", "v_osmid") and _is_text(edges[c]))
        as_object_none(edges_out, skip=("u", "v", "length", *made))
        roads = None
        if beside_roads is not None and len(beside_roads):
            if beside_roads.crs is None:
                raise NetworkError(
                    "the beside_roads table has no CRS",
                    feature="beside_roads",
                    fix="pass the third table of read_osm(..., beside_roads=True)",
                )
            roads = beside_roads.to_crs(metric).reset_index(drop=True)
            as_object_none(roads, skip=())
        return cls(nodes_out, edges_out, metric, beside_roads=roads)

    @classmethod
    def from_osm(
        cls, path: str | Path, area: AreaLike | None = None, buffer_m: float = 500, crs: CRSLike | None = None
    ) -> WalkNetwork:
        """Read an OSM file with :func:`childspace.osm.reader.read_osm` and build the engine (see :meth:`from_frames`)."""
        from childspace.osm.reader import (
            read_osm,  # imported here: osm is optional for users of saved networks
        )

        nodes, edges, roads = read_osm(path, area=area, buffer_m=buffer_m, beside_roads=True)
        return cls.from_frames(nodes, edges, crs=crs, beside_roads=roads)

    @classmethod
    def from_networkx(cls, G: nx.MultiDiGraph, crs: CRSLike | None = None) -> WalkNetwork:
        """Build the engine from an osmnx graph (MultiDiGraph with ``x``, ``y`` node attributes, ``graph['crs']``).

        Directed edge pairs (u->v and v->u of the same way and length) are merged into one undirected edge.
        """
        import osmnx as ox

        if G.number_of_edges() == 0:
            raise NetworkError("the graph has no edges", fix="check the graph (osmnx) you passed")
        nodes, edges = ox.convert.graph_to_gdfs(G)
        edges = edges.reset_index()
        a = np.minimum(edges["u"].to_numpy(), edges["v"].to_numpy())
        b = np.maximum(edges["u"].to_numpy(), edges["v"].to_numpy())
        way = edges["osmid"].astype(str).to_numpy() if "osmid" in edges.columns else np.zeros(len(edges))
        ln = np.round(edges["length"].to_numpy(dtype=float), 2) if "length" in edges.columns else 0.0
        key = pd.DataFrame({"a": a, "b": b, "w": way, "l": ln})
        edges = edges.loc[~key.duplicated().to_numpy()].reset_index(drop=True)
        nodes = nodes.drop(columns=[c for c in ("x", "y") if c in nodes.columns])
        nodes.index.name = "osmid"
        for col in edges.columns:  # list-valued osmnx attributes -> ";"-joined strings
            if edges[col].dtype == object and edges[col].map(lambda t: isinstance(t, list)).any():
                edges[col] = edges[col].map(lambda t: ";".join(map(str, t)) if isinstance(t, list) else t)
        return cls.from_frames(nodes, edges, crs=crs)

    # ------------------------------------------------------------------ weights
    def _build_weight(self, values: np.ndarray) -> EdgeWeight:
        n = self.n_nodes
        keep = (self.u != self.v) & np.isfinite(values)
        e = np.flatnonzero(keep)
        u, v, w = self.u[e], self.v[e], values[e]
        # both directions; entry j < m is u -> v of edge e[j], entry m + j is v -> u
        key = np.concatenate([u * n + v, v * n + u])
        data = np.concatenate([w, w])
        order = np.lexsort((data, key))  # by (row, col), cheapest first
        key = key[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        sel = order[first]
        del order, first
        key = key[np.flatnonzero(np.r_[True, key[1:] != key[:-1]])] if key.size else key
        data = data[sel]
        eid = e[sel % max(e.size, 1)]
        del sel
        rows = key // n
        itype = np.int32 if max(n, key.size) < 2**31 - 1 else np.int64
        cols = (key - rows * n).astype(itype)
        indptr = np.zeros(n + 1, dtype=itype)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        del key, rows
        csr = sp.csr_array((data, cols, indptr), shape=(n, n))
        return EdgeWeight(values=values, csr=csr, entry_edge=eid)

    def edge_weights(
        self, values: ArrayLike, end_u: ArrayLike | None = None, end_v: ArrayLike | None = None
    ) -> EdgeWeight:
        """A custom weight usable by every query (``weight=``).

        Parameters
        ----------
        values : array-like (n_edges,)
            Cost of each whole edge, in the order of :attr:`edges` (e.g. ``length * stress_factor``); must be
            >= 0; ``inf`` marks an edge that may not be walked. Partial edges cost proportionally.
        end_u, end_v : array-like (n_edges,), optional
            The part of ``values`` incurred at the ``u`` / ``v`` end of each edge (e.g. half a crossing penalty
            at that node, metres-equivalent), >= 0. A partial edge (a point on the edge walked to one end) then
            pays that end's cost in full and the remainder ``values - end_u - end_v`` proportionally, so that a
            penalty at a node is not diluted on the first and last edges of a route. Default: none (all cost is
            proportional to the walked share).

        Returns
        -------
        EdgeWeight
        """
        vals = np.asarray(values, dtype=float).reshape(-1)
        if vals.size != self.n_edges:
            raise NetworkError(
                f"a weight needs one value per edge ({self.n_edges}), got {vals.size}",
                fix="compute the weight from network.edges (same row order)",
            )
        bad = np.isnan(vals) | (vals < 0)
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise NetworkError(
                f"{int(bad.sum())} edge weight(s) are negative or NaN (edge rows {rows})",
                fix="weights must be >= 0 (use inf for edges that may not be walked)",
            )
        ends = []
        if end_u is not None or end_v is not None:
            for name, arr in (("end_u", end_u), ("end_v", end_v)):
                a = np.zeros(self.n_edges) if arr is None else np.asarray(arr, dtype=float).reshape(-1)
                if a.size != self.n_edges:
                    raise NetworkError(
                        f"{name} needs one value per edge ({self.n_edges}), got {a.size}",
                        fix="compute the end costs from network.edges (same row order)",
                    )
                badn = ~np.isfinite(a) | (a < 0)
                if badn.any():
                    rows = np.flatnonzero(badn)[:5].tolist()
                    raise NetworkError(
                        f"{int(badn.sum())} {name} value(s) are negative or not finite (edge rows {rows})",
                        fix=f"{name} must be finite and >= 0",
                    )
                ends.append(a)
            over = np.isfinite(vals) & (ends[0] + ends[1] > vals * (1 + 1e-12) + 1e-9)
            if over.any():
                rows = np.flatnonzero(over)[:5].tolist()
                raise NetworkError(
                    f"{int(over.sum())} edge(s) have end costs larger than the whole edge's cost "
                    f"(edge rows {rows})",
                    fix="values must include end_u + end_v",
                )
        w = self._build_weight(vals)
        if ends:
            w = dataclasses.replace(w, end_u=ends[0], end_v=ends[1], _keys=[])
        return w

    def _weight(self, weight: EdgeWeight | ArrayLike | None) -> EdgeWeight:
        if weight is None:
            return self._length_weight
        if isinstance(weight, EdgeWeight):
            if weight.values.size != self.n_edges:
                raise NetworkError(
                    "the weight belongs to another network", fix="build it with edge_weights()"
                )
            return weight
        return self.edge_weights(weight)

    def _check_snap(self, s: Snap, what: str) -> None:
        if not isinstance(s, Snap):
            raise NetworkError(
                f"{what} must be a Snap", fix=f"attach them first: {what} = network.snap(points)"
            )
        if s.n_network_edges != self.n_edges or not s.crs.equals(self.crs):
            raise NetworkError(f"{what} were snapped to another network", fix="snap them to this network")

    def _vertex_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All edge vertices: coords (K, 2), start pointer per edge (e+1,), cumulative distance per vertex (K,)."""
        if self._vcoords is not None:
            return self._vcoords
        with self._lazy_lock:
            if self._vcoords is None:
                self._vcoords = self._build_vertex_table()
        return self._vcoords

    def _build_vertex_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coords, li = shapely.get_coordinates(self._geom, return_index=True)
        ptr = np.zeros(self.n_edges + 1, dtype=np.int64)
        np.cumsum(np.bincount(li, minlength=self.n_edges), out=ptr[1:])
        seg = np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T)]
        seg[ptr[:-1]] = 0.0
        cum = np.cumsum(seg)
        cum -= np.repeat(cum[ptr[:-1]], np.diff(ptr))
        return coords, ptr, cum

    # ------------------------------------------------------------------ components
    def islands(self, snap: Snap, min_nodes: int | None = None) -> pd.DataFrame:
        """Attached points that sit on a small network component (not reachable from the main network).

        Parameters
        ----------
        snap : Snap
        min_nodes : int, optional
            Components with fewer nodes count as islands; default: every component but the largest.

        Returns
        -------
        pandas.DataFrame
            One row per such point: ``id``, ``group``, ``edge``, ``component``, ``component_nodes``.
            ``len(result)`` is the count to report.
        """
        self._check_snap(snap, "points")
        p = np.flatnonzero(snap.ok)
        comp = self.component[self.u[snap.edge[p]]]
        size = self.component_sizes[comp]
        bad = comp > 0 if min_nodes is None else size < min_nodes
        q = p[bad]
        return pd.DataFrame(
            {
                "id": snap.ids[q],
                "group": snap.labels[snap.owner[q]],
                "edge": snap.edge[q],
                "component": comp[bad],
                "component_nodes": size[bad],
            }
        )


def _to_metric(geo: gpd.GeoSeries, metric: CRS) -> np.ndarray:
    """``geo.to_crs(metric)`` as a new object array of geometries.

    geopandas writes the transformed coordinates back with ``shapely.set_coordinates`` into copies of the
    geometries (about 1 CPU s of the county's 1.0 M edge vertices); a column of 2-D points or 2-D lines only is
    rebuilt from the coordinate array in one ``shapely.points`` / ``shapely.linestrings`` call instead, with the
    transformer geopandas builds (``Transformer.from_crs(src, dst, always_xy=True)``), so the coordinates are the
    same to the bit. Anything else (missing, empty, 3-D or mixed geometries) goes through geopandas.
    """
    from pyproj import Transformer

    arr = np.asarray(geo.array, dtype=object)
    src = CRS.from_user_input(geo.crs)
    types = shapely.get_type_id(arr)
    kind = int(types[0]) if len(arr) else -1
    if (
        kind in (0, 1)
        and not src.is_exact_same(metric)
        and bool((types == kind).all())
        and not bool(shapely.has_z(arr).any())
        and not bool(shapely.is_empty(arr).any())
    ):
        coords, idx = shapely.get_coordinates(arr, return_index=True)
        x, y = Transformer.from_crs(src, metric, always_xy=True).transform(coords[:, 0], coords[:, 1])
        xy = np.column_stack([x, y])
        return shapely.points(xy) if kind == 0 else shapely.linestrings(xy, indices=idx)
    return np.asarray(geo.to_crs(metric).array, dtype=object).copy()


def _column(s: pd.Series) -> Any:
    """A tag column for the engine's tables: text columns as object arrays with None for a missing value (what
    ``as_object_none`` makes of them, done here from the Arrow null mask instead of a per-cell ``notna`` and a
    second column assignment; building them as text first would convert 275k values to Arrow strings and back),
    others as they are."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage in ("pyarrow", "pyarrow_numpy"):
        return pd.Series(s.to_numpy(dtype=object, na_value=None), dtype=object, copy=False)
    if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        obj = np.array(s.to_numpy(dtype=object), dtype=object)
        na = pd.isna(obj)
        if na.any():
            obj[na] = None
        return pd.Series(obj, dtype=object, copy=False)  # (a Series: kept as objects)
    return s.to_numpy()


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or s.dtype == object
