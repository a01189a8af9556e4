"""Greedy decoding in one ONNX graph: the encoder, then the decoder step inside a `Loop`, argmax.

A runtime that steps the decoder from its own language pays one call, with its tensor copies, per
character; in this graph the whole decode is one call. Measured on the tiny test model (latent 64)
with onnxruntime 1.32 on 2 cores: 2.6x faster per sentence at batch 1 and 1.7x the throughput at
batch 256 in Python (docs/performance.md has the seed-size figures, Python and Node).

The graph is composed from the two converted graphs (float32 or int8) with onnx's helpers, so its
arithmetic is theirs: the body is the decoder step's nodes, then ArgMax (ties to the lower id, as the
runtime's argmax), and a row is done at its END id. The loop runs until every row is done or for
`max_steps` steps; rows keep stepping after their END (their ids there are ignored), so batch-mates
never change a row's ids. The loop carries the family's state (`runtime.bundle.Family`); the body
reads the encoder's context (the attention memory) and both graphs' weights from the outer graph
(ONNX lets a Loop body read outer-scope names); names are prefixed so the two graphs' cannot clash.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from runtime.bundle import LOGITS, OUTPUT_IDS, SEED, SOURCE_IDS, TOKEN_IDS, Family, next_name


def _renamed(graph: onnx.GraphProto, prefix: str, keep: dict[str, str]):
    """The nodes and initializers of `graph` with every name prefixed, except those in `keep` (renamed)."""

    def name(n: str) -> str:
        return keep.get(n, prefix + n) if n else n

    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = prefix + (node.name or node.op_type)
        del copy.input[:]
        del copy.output[:]
        copy.input.extend(name(x) for x in node.input)
        copy.output.extend(name(x) for x in node.output)
        nodes.append(copy)
    initializers = []
    for tensor in graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.name = name(tensor.name)
        initializers.append(copy)
    return nodes, initializers


def build_greedy_loop(encoder: bytes, decoder_step: bytes, start_id: int, end_id: int, max_steps: int,
                      family: Family = SEED) -> bytes:
    """The serialized greedy graph: source_ids [batch, time] int32 -> output_ids [batch, steps] int32."""
    enc = onnx.load_from_string(encoder)
    dec = onnx.load_from_string(decoder_step)
    for role, model in (("encoder", enc), ("decoder_step", dec)):
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in model.graph.node for a in n.attribute):
            raise ValueError(f"the {role} graph has subgraphs: its names cannot be prefixed safely")
    enc_nodes, enc_inits = _renamed(enc.graph, "encoder/", {SOURCE_IDS: SOURCE_IDS})
    dec_nodes, dec_inits = _renamed(dec.graph, "step/", {
        TOKEN_IDS: "loop/token", **{name: f"loop/{name}" for name in family.state},
        **{name: f"encoder/{name}" for name in family.context}})
    state_types = {i.name: i.type for i in dec.graph.input if i.name in family.state}

    def value(name, dtype, shape):
        return helper.make_tensor_value_info(name, dtype, shape)

    def state_value(name, state):
        info = onnx.ValueInfoProto()
        info.name = name
        info.type.CopyFrom(state_types[state])
        return info

    body = helper.make_graph(
        dec_nodes + [
            helper.make_node("ArgMax", [f"step/{LOGITS}"], ["loop/argmax"], axis=1, keepdims=0),
            helper.make_node("Cast", ["loop/argmax"], ["loop/next"], to=TensorProto.INT32),
            helper.make_node("Equal", ["loop/next", "greedy/end_id"], ["loop/ended"]),
            helper.make_node("Or", ["loop/done", "loop/ended"], ["loop/done_next"]),
            helper.make_node("Not", ["loop/done_next"], ["loop/live"]),
            helper.make_node("Cast", ["loop/live"], ["loop/live_int"], to=TensorProto.INT32),
            helper.make_node("ReduceMax", ["loop/live_int"], ["loop/any_live"], keepdims=0),
            helper.make_node("Cast", ["loop/any_live"], ["loop/cond_out"], to=TensorProto.BOOL),
            helper.make_node("Identity", ["loop/next"], ["loop/emitted"]),
            *(helper.make_node("Identity", [f"step/{next_name(s)}"], [f"loop/{s}_out"]) for s in family.state),
        ],
        "greedy_step",
        [value("loop/iteration", TensorProto.INT64, []), value("loop/cond_in", TensorProto.BOOL, []),
         value("loop/token", TensorProto.INT32, ["batch"]),
         *(state_value(f"loop/{s}", s) for s in family.state),
         value("loop/done", TensorProto.BOOL, ["batch"])],
        [value("loop/cond_out", TensorProto.BOOL, []), value("loop/next", TensorProto.INT32, ["batch"]),
         *(state_value(f"loop/{s}_out", s) for s in family.state),
         value("loop/done_next", TensorProto.BOOL, ["batch"]), value("loop/emitted", TensorProto.INT32, ["batch"])],
    )
    constants = [
        numpy_helper.from_array(np.array(end_id, np.int32), "greedy/end_id"),
        numpy_helper.from_array(np.array(start_id, np.int32), "greedy/start_id"),
        numpy_helper.from_array(np.array(False), "greedy/false"),
        numpy_helper.from_array(np.array(True), "greedy/true"),
        numpy_helper.from_array(np.array(max_steps, np.int64), "greedy/max_steps"),
        numpy_helper.from_array(np.array([0], np.int64), "greedy/zero"),
        numpy_helper.from_array(np.array([1], np.int64), "greedy/one"),
    ]
    nodes = enc_nodes + [
        helper.make_node("Shape", [SOURCE_IDS], ["greedy/shape"]),
        helper.make_node("Slice", ["greedy/shape", "greedy/zero", "greedy/one"], ["greedy/batch"]),
        helper.make_node("Expand", ["greedy/start_id", "greedy/batch"], ["greedy/token0"]),
        helper.make_node("Expand", ["greedy/false", "greedy/batch"], ["greedy/done0"]),
        helper.make_node(
            "Loop",
            ["greedy/max_steps", "greedy/true", "greedy/token0", *(f"encoder/{s}" for s in family.state),
             "greedy/done0"],
            ["greedy/last_token", *(f"greedy/{s}" for s in family.state), "greedy/done", "greedy/steps_by_row"],
            body=body, name="greedy/loop",
        ),
        helper.make_node("Transpose", ["greedy/steps_by_row"], [OUTPUT_IDS], perm=[1, 0]),
    ]
    (inputs,), (outputs,) = family.io["greedy"]
    graph = helper.make_graph(
        nodes, "greedy_decode",
        [value(inputs, TensorProto.INT32, ["batch", "time"])],
        [value(outputs, TensorProto.INT32, ["batch", "steps"])],
        initializer=enc_inits + dec_inits + constants,
    )
    opsets: dict[str, int] = {}
    for o in list(enc.opset_import) + list(dec.opset_import):
        opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
                              producer_name=dec.producer_name)
    model.ir_version = max(enc.ir_version, dec.ir_version)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
