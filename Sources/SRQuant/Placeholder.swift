// quantizer passes: under construction
