declare module 'node-gyp-build' {
  function load(dir: string): any;
  namespace load {
    /** The .node file load(dir) would require; throws when there is none. */
    function path(dir: string): string;
  }
  export = load;
}
