/** Bytes in a mebibyte: memory and size limits are given in MiB. */
export const MIB = 1024 * 1024;
