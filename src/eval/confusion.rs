//! Category confusion matrices (rows: the suite's or label's category, columns: the predicted one),
//! as `physedit plan` and the CARD accuracy tests print them.
use crate::category::Category;

/// Confusion matrix over the nine categories: `counts[truth][predicted]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confusion {
    pub counts: [[usize; 9]; 9],
}

impl Confusion {
    pub fn add(&mut self, truth: Category, predicted: Category) {
        self.counts[truth.index()][predicted.index()] += 1;
    }
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }
    pub fn correct(&self) -> usize {
        (0..9).map(|i| self.counts[i][i]).sum()
    }
    pub fn accuracy(&self) -> f64 {
        if self.total() == 0 {
            0.0
        } else {
            self.correct() as f64 / self.total() as f64
        }
    }
    /// Per-category recall (None where the category has no cases).
    pub fn recall(&self, c: Category) -> Option<f64> {
        let row = &self.counts[c.index()];
        let n: usize = row.iter().sum();
        (n > 0).then(|| row[c.index()] as f64 / n as f64)
    }
    /// A fixed-width text table (rows: truth, columns: predicted).
    pub fn render(&self) -> String {
        let mut s = format!("{:>11}", "truth\\pred");
        for c in Category::ALL {
            s.push_str(&format!(" {:>7}", &c.name()[..c.name().len().min(7)]));
        }
        s.push_str("  recall\n");
        for t in Category::ALL {
            s.push_str(&format!("{:>11}", t.name()));
            for p in Category::ALL {
                s.push_str(&format!(" {:>7}", self.counts[t.index()][p.index()]));
            }
            match self.recall(t) {
                Some(r) => s.push_str(&format!("  {:>5.1}%\n", 100.0 * r)),
                None => s.push_str("      -\n"),
            }
        }
        s.push_str(&format!(
            "accuracy {}/{} = {:.1}%\n",
            self.correct(),
            self.total(),
            100.0 * self.accuracy()
        ));
        s
    }
}
