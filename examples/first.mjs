// The first example: run it with `node first.mjs` after `npm install softmax-wasm`.
import { ready, softmax, crossEntropy } from 'softmax-wasm';

await ready();                                          // instantiates the Wasm once
const logits = new Float32Array([2, 3, 4, 1, 0, -1]);   // 2 rows x 3 classes, row-major
const probs = softmax(logits, 3);
const { loss, grad } = crossEntropy(logits, 3, new Int32Array([1, 0]));  // mean loss, d loss / d logits
console.log(probs[2], loss, grad[1]);  // → 0.6652409434318542 0.9076059460639954 -0.37763577699661255
