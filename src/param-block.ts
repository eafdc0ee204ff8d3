// A network's long-lived Wasm memory, one block: params | grads | state1 | state2 (P floats each, the same layout
// W0 b0 W1 b1 ...) | the init, shuffle, dropout and augmentation generators (16 bytes each). Taken by the constructor,
// written from a checkpoint by load, freed by dispose().
import type { Engine } from "./engine.js";
import type { Checkpoint } from "./checkpoint.js";

export const RNG_BYTES = 16; // one generator's state

/** The block's pointers (bytes) and the parameter count P. */
export class ParamBlock {
  readonly params: number;
  readonly grads: number;
  readonly state1: number;
  readonly state2: number;
  /** The initialization's generator. */
  readonly rng: number;
  /** The shuffles' generator: it runs on across fit calls (and save / load), so each epoch gets a new order. */
  readonly shuffleRng: number;
  /** The dropout masks' generator: it runs on across fit calls (and save / load) as the shuffles' does. */
  readonly dropoutRng: number;
  /** fit's augmentation generator (one draw an image): it runs on across fit calls (and save / load) too. */
  readonly augmentRng: number;
  private readonly bytes: number;

  constructor(private readonly e: Engine, readonly count: number) {
    this.bytes = count * 16 + 4 * RNG_BYTES;
    const block = e.allocBlock(this.bytes);
    this.params = block;
    this.grads = block + count * 4;
    this.state1 = block + count * 8;
    this.state2 = block + count * 12;
    this.rng = block + count * 16;
    this.shuffleRng = this.rng + RNG_BYTES;
    this.dropoutRng = this.rng + 2 * RNG_BYTES;
    this.augmentRng = this.rng + 3 * RNG_BYTES;
  }

  /** Seeds the four generators from the network's seed. */
  seed(seed: number): void {
    const k = this.e.k;
    k.rng_seed(this.rng, seed);
    k.rng_seed(this.shuffleRng, (seed ^ 0x5bd1e995) >>> 0);
    k.rng_seed(this.dropoutRng, (seed ^ 0x2545f491) >>> 0);
    k.rng_seed(this.augmentRng, (seed ^ 0x6c078965) >>> 0);
  }

  /** Zeros the optimizer's state (both buffers). */
  zeroState(): void {
    this.e.write(this.state1, new Float32Array(this.count * 2));
  }

  /** The block's part of a checkpoint: the parameters, the optimizer's state (withState) and the generators'. */
  fields(withState: boolean): Pick<Checkpoint, "params" | "state" | "shuffleRng" | "dropoutRng" | "augmentRng"> {
    const e = this.e;
    return {
      shuffleRng: e.bytes(this.shuffleRng, RNG_BYTES),
      dropoutRng: e.bytes(this.dropoutRng, RNG_BYTES), augmentRng: e.bytes(this.augmentRng, RNG_BYTES),
      params: e.bytes(this.params, this.count * 4), state: withState ? e.bytes(this.state1, this.count * 8) : undefined,
    };
  }

  /** The parameters and generators a checkpoint holds (the optimizer's state is OptimizerState's to restore). */
  restore(c: Checkpoint): void {
    const e = this.e;
    e.write(this.params, c.params);
    e.write(this.shuffleRng, c.shuffleRng);
    if (c.version >= 3) {
      e.write(this.dropoutRng, c.dropoutRng);
      e.write(this.augmentRng, c.augmentRng);
    }
  }

  free(): void {
    this.e.freeBlock(this.params, this.bytes);
  }
}
