export { productToPb, catalogToPb, orderToPb, cartToPb, stateFromPb, stateToPb } from "../pb/mappers.js";
