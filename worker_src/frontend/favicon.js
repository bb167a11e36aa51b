// @ts-check
/** The pages' icon, inline: a rounded square with a "Q", so neither page asks for anything that is not there. */

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="7" fill="#1d1d1f"/>
<circle cx="15" cy="15" r="8" fill="none" stroke="#34a853" stroke-width="3.5"/>
<path d="M19 19l6 6" stroke="#34a853" stroke-width="3.5" stroke-linecap="round"/>
</svg>
`;
