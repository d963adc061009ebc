/// The built-in methods: one line each, the table of contents of Methods/.
extension MergeMethodRegistry {
    public static let builtIn = MergeMethodRegistry([
        Linear.self,
        SLERP.self,
        NuSLERP.self,
        MultiSLERP.self,
        Karcher.self,
        TaskArithmetic.self,
        TIES.self,
        DARETIES.self,
        DARELinear.self,
        Breadcrumbs.self,
        BreadcrumbsTIES.self,
        DELLA.self,
        DELLALinear.self,
        ModelStock.self,
        SCE.self,
        NearSwap.self,
        ArceeFusion.self,
        RAM.self,
        RAMPlusTL.self,
        Passthrough.self,
    ])
}
