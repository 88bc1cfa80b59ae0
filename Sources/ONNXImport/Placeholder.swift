// module ONNXImport: under construction
