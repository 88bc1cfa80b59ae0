// module FloatEngine: under construction
