// module FloatKernelsX86: under construction
