import { customAlphabet } from "nanoid";

/** 21 characters of [0-9a-z]: about 109 bits, and valid inside a Kubernetes object name. */
export const newId = customAlphabet("0123456789abcdefghijklmnopqrstuvwxyz", 21);
