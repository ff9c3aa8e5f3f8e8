/* Out-of-place transpose of a float matrix, 16 x 16 blocks at a time. */
#include "internal.h"

BC_MULTI_ISA void bc_transpose(const float *src, int rows, int cols, size_t lds, float *dst,
                               size_t ldd)
{
    int r0 = 0;
    for (; r0 + 16 <= rows; r0 += 16) {
        int c0 = 0;
        for (; c0 + 16 <= cols; c0 += 16) {
            vec16 t[16];
            for (int i = 0; i < 16; i++)
                t[i] = bc_load16(src + (size_t)(r0 + i) * lds + c0);
            bc_transpose16(t);
            for (int i = 0; i < 16; i++)
                bc_store16(dst + (size_t)(c0 + i) * ldd + r0, t[i]);
        }
        for (int c = c0; c < cols; c++)
            for (int r = r0; r < r0 + 16; r++)
                dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
    }
    for (int r = r0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}
