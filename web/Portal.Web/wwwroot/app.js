// Small browser helpers called from Blazor through JS interop.
window.portal = {
  copy: async (text) => {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      return false;
    }
  },
};
