// Scalar-type ids shared by the generator (marlin_core/types.py) and the kernels.
// The id packs the type's fields LSB first: exponent (8 bits), mantissa (8), signed (1),
// bias (32, two's complement), finite_values_only (1), nan_repr (8). Python computes the
// same number, so ids can cross the C ABI and serve as template arguments.
#pragma once
#include <cstdint>

namespace marlin {

using ScalarTypeId = int64_t;

constexpr ScalarTypeId make_scalar_type_id(int exponent, int mantissa, bool is_signed, int32_t bias,
                                           bool finite_values_only, int nan_repr) {
  return (ScalarTypeId(exponent & 0xff)) | (ScalarTypeId(mantissa & 0xff) << 8) |
         (ScalarTypeId(is_signed ? 1 : 0) << 16) | (ScalarTypeId(uint32_t(bias)) << 17) |
         (ScalarTypeId(finite_values_only ? 1 : 0) << 49) | (ScalarTypeId(nan_repr & 0xff) << 50);
}

// nan_repr values
constexpr int kNanNone = 0, kNanIeee754 = 1, kNanExtdRangeMaxMin = 2;

namespace type_id {
constexpr ScalarTypeId kS4 = make_scalar_type_id(0, 3, true, 0, false, kNanIeee754);
constexpr ScalarTypeId kU4 = make_scalar_type_id(0, 4, false, 0, false, kNanIeee754);
constexpr ScalarTypeId kU4B8 = make_scalar_type_id(0, 4, false, 8, false, kNanIeee754);
constexpr ScalarTypeId kS8 = make_scalar_type_id(0, 7, true, 0, false, kNanIeee754);
constexpr ScalarTypeId kU8 = make_scalar_type_id(0, 8, false, 0, false, kNanIeee754);
constexpr ScalarTypeId kU8B128 = make_scalar_type_id(0, 8, false, 128, false, kNanIeee754);
constexpr ScalarTypeId kFE4M3fn = make_scalar_type_id(4, 3, true, 0, true, kNanExtdRangeMaxMin);
constexpr ScalarTypeId kFE2M1f = make_scalar_type_id(2, 1, true, 0, true, kNanNone);
constexpr ScalarTypeId kFE8M0fnu = make_scalar_type_id(8, 0, false, 0, true, kNanExtdRangeMaxMin);
constexpr ScalarTypeId kFloat16 = make_scalar_type_id(5, 10, true, 0, false, kNanIeee754);
constexpr ScalarTypeId kBFloat16 = make_scalar_type_id(8, 7, true, 0, false, kNanIeee754);
}  // namespace type_id

// Checked against the ids computed independently in Python (tests/test_types.py).
static_assert(type_id::kU4B8 == 0x4000000100400ll, "scalar type id layout");
static_assert(type_id::kFE4M3fn == 0xa000000010304ll, "scalar type id layout");
static_assert(type_id::kFloat16 == 0x4000000010a05ll, "scalar type id layout");

constexpr int scalar_type_bits(ScalarTypeId id) {
  return int(id & 0xff) + int((id >> 8) & 0xff) + int((id >> 16) & 1);
}

}  // namespace marlin
