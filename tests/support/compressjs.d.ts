/** The part of compressjs (pure-JS bzip2, a test-only dependency) the FITS builders use. */
declare module "compressjs" {
  interface Bzip2Codec {
    compressFile(input: Uint8Array, output?: undefined, blockSizeLevel?: number): Uint8Array | number[];
  }
  const compressjs: { readonly Bzip2: Bzip2Codec };
  export default compressjs;
}
