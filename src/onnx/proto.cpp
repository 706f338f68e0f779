// ONNX protobuf messages <-> ravel tensors, attributes and value infos (see proto.h).
#include "onnx/proto.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <sstream>
#include <type_traits>

namespace ravel::onnx::detail {
namespace {

namespace pb = ::onnx;

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; a big-endian host would need byte swaps");

constexpr int kMaxRank = 64;
constexpr int64_t kMaxDim = int64_t{1} << 40;  // no real tensor comes near; keeps products exact

struct DTypeCode {
  int code;
  DType dtype;
};
constexpr DTypeCode kDTypeCodes[] = {
    {pb::TensorProto::BOOL, DType::Bool},       {pb::TensorProto::UINT8, DType::UInt8},
    {pb::TensorProto::INT8, DType::Int8},       {pb::TensorProto::INT16, DType::Int16},
    {pb::TensorProto::INT32, DType::Int32},     {pb::TensorProto::INT64, DType::Int64},
    {pb::TensorProto::FLOAT16, DType::Float16}, {pb::TensorProto::BFLOAT16, DType::BFloat16},
    {pb::TensorProto::FLOAT, DType::Float32},   {pb::TensorProto::DOUBLE, DType::Float64}};

std::string code_name(int code) {
  if (pb::TensorProto::DataType_IsValid(code))
    return pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(code));
  return "unknown";
}

DType dtype_from_code(int code, const std::string& where, const Context& ctx) {
  for (const auto& d : kDTypeCodes)
    if (d.code == code) return d.dtype;
  ctx.fail(where, ": element type ", code_name(code), " (ONNX data_type ", code,
           ") is not supported; ravel reads FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8, INT16, INT32, "
           "INT64, UINT8 and BOOL");
}

// Copies a repeated typed field into a tensor's memory, converting each element.
template <typename Dst, typename Field, typename Convert>
void copy_field(void* dst, const Field& field, Convert convert) {
  auto* d = static_cast<Dst*>(dst);
  for (int i = 0; i < field.size(); ++i) d[i] = convert(field.Get(i));
}

template <typename Dst>
auto cast_to() {
  return [](auto v) { return static_cast<Dst>(v); };
}

}  // namespace

std::string clip(const std::string& s) { return s.size() <= 64 ? s : s.substr(0, 64) + "..."; }

int onnx_dtype(DType t) {
  for (const auto& d : kDTypeCodes)
    if (d.dtype == t) return d.code;
  ::ravel::detail::throw_error("onnx: dtype ", t, " has no ONNX element type");
}

Tensor tensor_from_proto(const pb::TensorProto& t, const std::string& where, const Context& ctx) {
  if (t.data_location() == pb::TensorProto::EXTERNAL || t.external_data_size() > 0) {
    std::string location;
    for (const auto& kv : t.external_data())
      if (kv.key() == "location") location = kv.value();
    ctx.fail(where, ": external_data is not supported (the values are in '", clip(location),
             "', outside the model); save the model as one file, e.g. onnx.save_model(m, path, "
             "save_as_external_data=False)");
  }
  if (t.has_segment()) ctx.fail(where, ": segmented tensors are not supported");
  const DType dtype = dtype_from_code(t.data_type(), where, ctx);
  if (t.dims_size() > kMaxRank)
    ctx.fail(where, ": ", t.dims_size(), " dimensions; expected at most ", kMaxRank);
  Shape shape;
  int64_t numel = 1, nonzero = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || d > kMaxDim) ctx.fail(where, ": dimension ", d, " expected 0 to ", kMaxDim);
    nonzero *= std::max<int64_t>(d, 1);
    if (nonzero > kMaxDim) ctx.fail(where, ": more than ", kMaxDim, " elements");
    numel *= d;
    shape.push_back(d);
  }
  const size_t nbytes = static_cast<size_t>(numel) * itemsize(dtype);
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() != nbytes)
      ctx.fail(where, ": raw_data holds ", raw.size(), " bytes; dims ", shape, " of ",
               dtype_name(dtype), " need ", nbytes);
    Tensor out = from_buffer(raw.data(), shape, dtype);
    if (dtype == DType::Bool) {  // a bool byte other than 0/1 is undefined behaviour to read
      auto* p = static_cast<uint8_t*>(out.raw_data());
      for (int64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
    }
    return out;
  }
  // The typed field ONNX uses for each element type.
  int count = 0;
  const char* field = "int32_data";
  if (dtype == DType::Float32) {
    count = t.float_data_size(), field = "float_data";
  } else if (dtype == DType::Float64) {
    count = t.double_data_size(), field = "double_data";
  } else if (dtype == DType::Int64) {
    count = t.int64_data_size(), field = "int64_data";
  } else {
    count = t.int32_data_size();
  }
  if (count != numel)
    ctx.fail(where, ": ", field, " holds ", count, " values; dims ", shape, " need ", numel,
             count == 0 ? " (and there is no raw_data)" : "");
  Tensor out = empty(shape, dtype);
  void* p = out.raw_data();
  switch (dtype) {
    case DType::Float32:
      copy_field<float>(p, t.float_data(), cast_to<float>());
      break;
    case DType::Float64:
      copy_field<double>(p, t.double_data(), cast_to<double>());
      break;
    case DType::Int64:
      copy_field<int64_t>(p, t.int64_data(), cast_to<int64_t>());
      break;
    case DType::Int32:
      copy_field<int32_t>(p, t.int32_data(), cast_to<int32_t>());
      break;
    case DType::Int16:
      copy_field<int16_t>(p, t.int32_data(), cast_to<int16_t>());
      break;
    case DType::Int8:
      copy_field<int8_t>(p, t.int32_data(), cast_to<int8_t>());
      break;
    case DType::UInt8:
      copy_field<uint8_t>(p, t.int32_data(), cast_to<uint8_t>());
      break;
    case DType::Bool:
      copy_field<uint8_t>(p, t.int32_data(), [](int32_t v) { return uint8_t{v != 0}; });
      break;
    case DType::Float16:  // the bits, in the low half of each int32
    case DType::BFloat16:
      copy_field<uint16_t>(p, t.int32_data(), cast_to<uint16_t>());
      break;
  }
  return out;
}

void tensor_to_proto(const Tensor& t, const std::string& name, pb::TensorProto* out) {
  RAVEL_CHECK(t.defined(), "onnx: tensor '", name, "' is undefined");
  out->set_name(name);
  out->set_data_type(onnx_dtype(t.dtype()));
  for (int64_t d : t.shape()) out->add_dims(d);
  Tensor c = t.contiguous();
  out->set_raw_data(c.raw_data(), c.nbytes());
}

graph::Attribute attribute_from_proto(const pb::AttributeProto& a, const std::string& node,
                                      const Context& ctx) {
  const std::string where = node + " attribute '" + clip(a.name()) + "'";
  if (a.has_ref_attr_name())
    ctx.fail(where, ": refers to a function attribute; ONNX functions are not supported");
  auto type = a.type();
  if (type == pb::AttributeProto::UNDEFINED) {  // IR version 1 files: the field that is set
    if (a.has_f())
      type = pb::AttributeProto::FLOAT;
    else if (a.has_i())
      type = pb::AttributeProto::INT;
    else if (a.has_s())
      type = pb::AttributeProto::STRING;
    else if (a.has_t())
      type = pb::AttributeProto::TENSOR;
    else if (a.floats_size())
      type = pb::AttributeProto::FLOATS;
    else if (a.ints_size())
      type = pb::AttributeProto::INTS;
    else
      ctx.fail(where, ": no type and no value");
  }
  switch (type) {
    case pb::AttributeProto::FLOAT:
      return a.f();
    case pb::AttributeProto::INT:
      return static_cast<int64_t>(a.i());
    case pb::AttributeProto::STRING:
      return a.s();
    case pb::AttributeProto::TENSOR:
      return tensor_from_proto(a.t(), where, ctx);
    case pb::AttributeProto::FLOATS:
      return std::vector<float>(a.floats().begin(), a.floats().end());
    case pb::AttributeProto::INTS:
      return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    default: {
      const std::string name = pb::AttributeProto::AttributeType_IsValid(type)
                                   ? pb::AttributeProto::AttributeType_Name(type)
                                   : std::to_string(static_cast<int>(type));
      ctx.fail(where, ": attributes of type ", name,
               " are not supported (ravel reads FLOAT, INT, STRING, TENSOR, FLOATS and INTS; "
               "subgraphs such as If/Loop bodies are not supported)");
    }
  }
}

void attribute_to_proto(const std::string& name, const graph::Attribute& value,
                        pb::AttributeProto* out) {
  out->set_name(name);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          out->set_type(pb::AttributeProto::INT);
          out->set_i(v);
        } else if constexpr (std::is_same_v<T, float>) {
          out->set_type(pb::AttributeProto::FLOAT);
          out->set_f(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out->set_type(pb::AttributeProto::STRING);
          out->set_s(v);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          out->set_type(pb::AttributeProto::INTS);
          for (int64_t x : v) out->add_ints(x);
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          out->set_type(pb::AttributeProto::FLOATS);
          for (float x : v) out->add_floats(x);
        } else {
          out->set_type(pb::AttributeProto::TENSOR);
          tensor_to_proto(v, "", out->mutable_t());
        }
      },
      value);
}

graph::ValueInfo value_info_from_proto(const pb::ValueInfoProto& v, const char* kind,
                                       const Context& ctx, bool* has_shape) {
  graph::ValueInfo info;
  info.name = v.name();
  const std::string where = std::string("graph ") + kind + " '" + clip(v.name()) + "'";
  if (info.name.empty()) ctx.fail("a graph ", kind, " has no name");
  if (!v.type().has_tensor_type())
    ctx.fail(where, ": not a tensor (sequences, maps and optionals are not supported)");
  const auto& tt = v.type().tensor_type();
  info.dtype = dtype_from_code(tt.elem_type(), where, ctx);
  *has_shape = tt.has_shape();
  if (tt.shape().dim_size() > kMaxRank)
    ctx.fail(where, ": ", tt.shape().dim_size(), " dimensions; expected at most ", kMaxRank);
  int64_t nonzero = 1;  // as for tensors: shapes stay far from int64 overflow
  for (const auto& d : tt.shape().dim()) {
    if (!d.has_dim_value()) {  // dim_param or unknown: dynamic
      info.shape.push_back(-1);
      continue;
    }
    if (d.dim_value() < 0 || d.dim_value() > kMaxDim)
      ctx.fail(where, ": dimension ", d.dim_value(), " expected 0 to ", kMaxDim);
    nonzero *= std::max<int64_t>(d.dim_value(), 1);
    if (nonzero > kMaxDim) ctx.fail(where, ": more than ", kMaxDim, " elements");
    info.shape.push_back(d.dim_value());
  }
  return info;
}

void value_info_to_proto(const graph::ValueInfo& v, pb::ValueInfoProto* out) {
  out->set_name(v.name);
  auto* tt = out->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_dtype(v.dtype));
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    auto* d = shape->add_dim();
    if (v.shape[i] >= 0)
      d->set_dim_value(v.shape[i]);
    else  // the batch dimension shares one name across inputs and outputs
      d->set_dim_param(i == 0 ? "batch" : v.name + "_dim" + std::to_string(i));
  }
}

}  // namespace ravel::onnx::detail
