//! Adaptive inference: CARD (reasoning depth per edit), SRM (spatial reasoning mask), plans and the FLOP cost model.
