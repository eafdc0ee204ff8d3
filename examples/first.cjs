// The first example from CommonJS: require() of an ES module works from Node 20.19 / 22.12 on; older Node needs
// `const { ready, ... } = await import('softmax-wasm')` inside an async function.
const { ready, softmax, crossEntropy } = require('softmax-wasm');

ready().then(() => {
  const logits = new Float32Array([2, 3, 4, 1, 0, -1]);   // 2 rows x 3 classes, row-major
  const probs = softmax(logits, 3);
  const { loss, grad } = crossEntropy(logits, 3, new Int32Array([1, 0]));
  console.log(probs[2], loss, grad[1]);  // → 0.6652409434318542 0.9076059460639954 -0.37763577699661255
});
