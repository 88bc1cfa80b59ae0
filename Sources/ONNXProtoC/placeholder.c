int onnxprotoc_placeholder(void) { return 0; }
