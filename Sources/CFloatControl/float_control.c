#include "float_control.h"
#if defined(__x86_64__)
#include <xmmintrin.h>
unsigned int srcc_enable_flush_denormals(void) {
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040);
    return saved;
}
void srcc_restore_float_control(unsigned int saved) { _mm_setcsr(saved); }
#else
unsigned int srcc_enable_flush_denormals(void) { return 0; }
void srcc_restore_float_control(unsigned int saved) { (void)saved; }
#endif
