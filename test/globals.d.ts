// Tests read many JSON bodies whose shape they then assert in full; typing each
// as `unknown` would only add casts. This overload applies to test files only.
export {};
declare global {
  interface Response {
    json(): Promise<any>;
  }
}
