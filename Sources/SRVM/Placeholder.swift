// srvm kernels: under construction
