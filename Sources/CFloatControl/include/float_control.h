#ifndef SRCC_FLOAT_CONTROL_H
#define SRCC_FLOAT_CONTROL_H
/// Sets this thread's flush-to-zero and denormals-are-zero modes (x86 MXCSR bits 15 and 6);
/// returns the previous MXCSR so the caller can restore it. No-op returning 0 elsewhere.
unsigned int srcc_enable_flush_denormals(void);
void srcc_restore_float_control(unsigned int saved);
#endif
