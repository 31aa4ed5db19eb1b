#!/usr/bin/python3
"""Writes the small ONNX models the host/onnx tests read, using the official
onnx Python package (Debian: apt-get install python3-onnx) as an independent
writer. Run from this directory; the outputs are committed.

  tiny.onnx      every initializer encoding the reader supports
  external.onnx  an initializer stored in external.bin (must be rejected)
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 4, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 4, 4])
z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])

w = np.arange(3 * 2 * 1 * 1, dtype=np.float32).reshape(3, 2, 1, 1) * 0.5 - 1
inits = [
    numpy_helper.from_array(w, "conv.weight"),  # FLOAT in raw_data
    helper.make_tensor("conv.bias", TensorProto.FLOAT, [3], [0.25, -0.5, 1.0]),  # float_data
    helper.make_tensor("half", TensorProto.FLOAT16, [2, 2], np.array([1, -2, 0.5, 65504], dtype=np.float16)),  # int32_data
    numpy_helper.from_array(np.array([1.5, -0.0, 6e-8], dtype=np.float16), "half_raw"),  # raw_data
    helper.make_tensor("bf16", TensorProto.BFLOAT16, [2], [1.0, -3.0]),  # int32_data
    helper.make_tensor("dbl", TensorProto.DOUBLE, [2], [0.1, 1e300]),  # double_data
    numpy_helper.from_array(np.array([7, -1, 2**40], dtype=np.int64), "i64_raw"),
    helper.make_tensor("i64", TensorProto.INT64, [2], [3, -4]),  # int64_data
    numpy_helper.from_array(np.array([-5, 6], dtype=np.int8), "i8_raw"),
    numpy_helper.from_array(np.array([True, False, True]), "bool_raw"),
    numpy_helper.from_array(np.array(2.5, dtype=np.float32), "scalar"),
    numpy_helper.from_array(np.zeros((0, 3), dtype=np.float32), "empty"),
]

then_out = helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])
then_g = helper.make_graph(
    [helper.make_node("Constant", [], ["t"], value=helper.make_tensor("tv", TensorProto.FLOAT, [1], [1.0]))],
    "then_branch", [], [then_out])
else_g = helper.make_graph(
    [helper.make_node("Constant", [], ["t"], value=helper.make_tensor("ev", TensorProto.FLOAT, [1], [2.0]))],
    "else_branch", [], [then_out])

nodes = [
    helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="/conv/Conv",
                     kernel_shape=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0]),
    helper.make_node("Sigmoid", ["c"], ["s"], name="/act/Sigmoid"),
    helper.make_node("Mul", ["c", "s"], ["y"], name="/act/Mul"),
    helper.make_node("Constant", [], ["cond"], name="cond",
                     value=numpy_helper.from_array(np.array(True), "cond_value")),
    helper.make_node("If", ["cond"], ["z"], name="if", then_branch=then_g, else_branch=else_g),
    helper.make_node("LeakyRelu", ["y"], ["unused"], name="leaky", alpha=0.125),
    helper.make_node("Resize", ["y", "", "scales"], ["unused2"], name="resize", mode="nearest"),
]
inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales"))
graph = helper.make_graph(nodes, "tiny", [x], [y, z], initializer=inits)
model = helper.make_model(graph, producer_name="yoloforge-testdata",
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 2)])
model.ir_version = 7
helper.set_model_props(model, {"purpose": "reader test"})
onnx.save(model, "tiny.onnx")

ext = helper.make_graph([helper.make_node("Identity", ["w"], ["o"])], "ext", [],
                        [helper.make_tensor_value_info("o", TensorProto.FLOAT, [16, 16])],
                        initializer=[numpy_helper.from_array(np.ones((16, 16), dtype=np.float32), "big.weight")])
em = helper.make_model(ext, opset_imports=[helper.make_opsetid("", 13)])
em.ir_version = 7
onnx.save_model(em, "external.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                location="external.bin", size_threshold=512)
